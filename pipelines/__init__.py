"""Batch jobs and the `feedback` command line, composed from models/, training/ and inference/."""
