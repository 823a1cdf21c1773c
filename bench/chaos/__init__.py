"""The chaos suite (``make chaos``): an ILS deployment of its own — its own embedded server, its
own ``ils worker`` processes, its own web server and SMTP sink — put through kill -9, Redis
restarts and outages and poison jobs, every side effect audited afterwards (bench/README.md)."""
