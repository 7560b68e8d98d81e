"""`python -m workers.secret_files nameko run ...`: the workers' secrets read from files, for
Kubernetes (compose/k8s), where they are mounted as files rather than put in the environment.

For each of AMQP_URI and REDIS_URI whose `<NAME>_FILE` is set, the file's content (without the final
newline) becomes the variable workers/config.yml reads; then the command replaces this process. The
gateway reads its own `*_FILE` variables itself (gateway/settings.py).
"""

import os
import sys

SECRETS = ("AMQP_URI", "REDIS_URI")


def environment(environ):
    """`environ` with each secret whose file is named read from that file."""
    environ = dict(environ)
    for name in SECRETS:
        path = environ.pop(f"{name}_FILE", None)
        if path:
            try:
                with open(path, encoding="utf-8") as file:
                    environ[name] = file.read().rstrip("\r\n")
            except OSError as exc:
                sys.exit(f"{name}_FILE={path!r}: cannot read it ({exc.strerror})")
    return environ


def main(argv):
    if not argv:
        sys.exit("usage: python -m workers.secret_files COMMAND [ARGS...]")
    os.execvpe(argv[0], argv, environment(os.environ))


if __name__ == "__main__":
    main(sys.argv[1:])
