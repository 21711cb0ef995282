"""The collector's HTTP API (`/v1`): routers, auth, limits and the one error shape."""
