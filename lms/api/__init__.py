"""The API platform shared by every app: pagination, errors, permissions, throttles, schema."""
