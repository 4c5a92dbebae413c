"""What a test can ask of the server beyond the APIs: the request journal and fault rules, as state."""
