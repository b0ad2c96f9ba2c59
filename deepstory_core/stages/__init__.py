"""Stages: plain functions that read inputs from the artifact store and write one artifact each."""
