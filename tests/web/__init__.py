"""Tests of the web app: auth and security, error mapping, the queue monitoring endpoints."""
