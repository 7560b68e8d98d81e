"""A TypeScript client generated from docs/openapi.json (openapi-typescript and openapi-fetch,
TypeScript 5, pinned in tests/openapi/node): the generated types and a script using them pass
`tsc --strict` with no error, and the script then does what a client does against the live
stack (tests/openapi/node/client.ts says what)."""

import shutil

from tests.support.node import NODE_PROJECT, run_npm


def test_the_typescript_client_type_checks_and_works_against_the_live_stack(node_project, live_gateway):
    for output in ("generated", "build"):  # nothing left from an earlier run can pass for this one's
        shutil.rmtree(NODE_PROJECT / output, ignore_errors=True)

    generated = run_npm("run", "generate")
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    assert "error" not in generated.stderr.lower(), generated.stderr[-3000:]

    checked = run_npm("run", "typecheck")
    assert checked.returncode == 0, "tsc --strict:\n" + checked.stdout[-6000:] + checked.stderr[-2000:]

    ran = run_npm("run", "client", BASE_URL=live_gateway)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-6000:]
    assert "the TypeScript client did everything it should" in ran.stdout
