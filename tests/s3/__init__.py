"""Tests of the S3 dicts against real SeaweedFS servers on 127.0.0.1."""
