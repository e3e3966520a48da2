/** This frontend's version; must equal the Python package's (tests/test_server.py checks). */
export const VERSION = '0.1.0';

/** The REST API generation this frontend speaks (the server's `api` field). */
export const API_VERSION = 1;
