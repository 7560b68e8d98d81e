"""The defaults workers/config.yml gives its settings (`${NAME:default}`), for the tests that check
a deployment file repeats them rather than a number of its own."""

import re

from devstack.layout import CONFIG  # the file every worker process the project starts is given


def default_of(key):
    """The default after the colon of the environment variable that sets `key`, as a string."""
    match = re.search(rf"^{re.escape(key)}: .*?\$\{{[A-Z_]+:([^}}]*)\}}", CONFIG.read_text(), re.MULTILINE)
    if match is None:
        raise LookupError(f"workers/config.yml sets no {key} from the environment")
    return match.group(1)
