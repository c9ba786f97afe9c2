"""The feeds backend: files exchanged with partners (seed 001 section 2). One module per concern:

* ``processing.py`` / ``csv_files.py``: the file-level processing (load an eligibility file and write
  its report; write enrollment and outcome feeds; feed status) and the CSV writer they share;

* ``folders.py``: the feed folders on disk (inbound, outbound, ready markers, processing, processed);
* ``partner_files.py``: per-partner settings and keys under ``<data dir>/feeds/``;
* ``runs.py``: the feeds worker's journal;
* ``host_key.py``: the SFTP server's host key in the data directory;
* ``sftp_server.py`` / ``sftp_client.py``: asyncssh, our server and the client for partner servers;
* ``gcs_client.py``: google-cloud-storage, a partner's bucket as its transport (pull inbound, push outbound);
* ``openpgp.py``: pysequoia (Sequoia-PGP), decrypt/verify inbound, encrypt/sign outbound.

asyncssh imports its DSA support at import time, which makes cryptography warn that DSA is deprecated;
we never use DSA keys, so the warning is silenced for that one import (:func:`quiet_asyncssh`). It is not
imported with this package: every ``ledger`` command would pay its import (~5 % of the CLI's import CPU), and
only SFTP needs it.
"""

import warnings
from types import ModuleType


def quiet_asyncssh() -> ModuleType:
    """``asyncssh``, imported without cryptography's DSA deprecation warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DSA is deprecated")
        import asyncssh

    return asyncssh
