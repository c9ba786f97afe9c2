"""SFTP for the batch feeds (asyncssh): our server for partners, and a client for partner-hosted servers.

asyncssh imports its DSA support at import time, which makes cryptography warn that DSA is deprecated;
we never use DSA keys, so the warning is silenced for that one import.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh  # noqa: F401
