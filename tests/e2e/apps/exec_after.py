"""exec_after.py SECONDS PROGRAM ARGS...: sleep, then exec PROGRAM in place.

Stands in for Python entrypoints that exec the server (Docker entrypoint
scripts, process managers): the pid, ppid and comm ("python3.11") stay the
same across the exec, only argv changes.
"""
import os
import sys
import time

time.sleep(float(sys.argv[1]))
os.execv(sys.argv[2], sys.argv[2:])
