"""The process test_fuzz.py feeds command lines to: it runs `dlaforge.cli.main` on each under
an address-space limit (`resource.RLIMIT_AS`, the first argument in bytes), so a run that would
exhaust memory fails here rather than on the machine.

Reads one JSON line per run, [argv, cwd]; writes one JSON line back: {"code": exit code or
null, "out": stdout, "err": stderr, "raised": the traceback of an exception main let out}.
"""

import contextlib
import io
import json
import os
import resource
import sys
import traceback

limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

from dlaforge.cli import main  # noqa: E402  (imported under the limit)

for line in sys.stdin:
    argv, cwd = json.loads(line)
    os.chdir(cwd)
    out, err = io.TextIOWrapper(io.BytesIO(), write_through=True), io.StringIO()
    code, raised = None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException:       # noqa: BLE001  (reported to the test, which fails)
            raised = traceback.format_exc()
    out.seek(0)
    sys.__stdout__.write(json.dumps({"code": code, "out": out.read(), "err": err.getvalue(),
                                     "raised": raised}) + "\n")
    sys.__stdout__.flush()
