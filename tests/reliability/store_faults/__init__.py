"""The database's files meet the real world: damaged, read-only, full, another account's -wal/-shm,
held by another writer, a wrong passphrase, a path from HITL_DB_PATH. Each gives one line naming
the real cause (never "wrong key" unless it is), saying that nothing was written, and the fix.

Everything runs through the installed `hitl-tui` in a subprocess, and through WorkflowService.
Root is needed for tmpfs and bind mounts, throwaway accounts, and for running hitl-tui as an
ordinary account meets file modes: the test interpreter lives under /root, which no other account
may enter, so instead of switching uid the child drops the capabilities that let root ignore
file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) from its bounding set before it
executes hitl-tui. Without root those tests are skipped.
"""

