"""One router per resource of the API, plus the sandbox's own administration."""
