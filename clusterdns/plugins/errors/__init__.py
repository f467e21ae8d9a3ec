"""The `errors` plugin: exceptions from later plugins logged once and answered with SERVFAIL."""
