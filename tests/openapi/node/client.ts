// A client generated from docs/openapi.json (openapi-typescript types, openapi-fetch calls), used
// as generated against the live stack. tests/openapi/test_typescript_client.py type-checks this
// file with `tsc --strict` (so the types have to say what the server takes and answers) and then
// runs it with BASE_URL set. Any failed expectation throws, and node exits non-zero.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/api.js";

type Airport = components["schemas"]["Airport"];
type Problem = components["schemas"]["Problem"];

const baseUrl = process.env.BASE_URL;
if (!baseUrl) throw new Error("set BASE_URL to the gateway's URL");
const client = createClient<paths>({ baseUrl });

const PROBLEM_JSON = "application/problem+json";
const VALIDATION = "tag:nameko-travel,2026:validation-error";
const CONFLICT = "tag:nameko-travel,2026:conflict";

function assertProblem(problem: Problem | undefined, response: Response, status: number): Problem {
  assert.equal(response.status, status);
  assert.equal(response.headers.get("content-type"), PROBLEM_JSON);
  assert.ok(problem, `a ${status} carries a problem document`);
  assert.equal(problem.status, status);
  assert.ok(problem.title && problem.detail && problem.instance);
  return problem;
}

function randomIata(): string {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  return Array.from({ length: 3 }, () => letters[Math.floor(Math.random() * letters.length)]).join("");
}

async function createWithUnusedIata(name: string): Promise<Airport> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const { data, error, response } = await client.POST("/airports", { body: { name, iata: randomIata() } });
    if (data) return data;
    assertProblem(error, response, 409); // the code belongs to an airport of another test: try another
  }
  throw new Error("no unused IATA code found");
}

// Two airports, one without an IATA code: `iata` is optional in the generated type.
const porto = await client.POST("/airports", { body: { name: "Porto" } });
assert.equal(porto.response.status, 201);
assert.ok(porto.data);
assert.equal(porto.data.iata, null);
assert.equal(porto.response.headers.get("location"), `/airports/${porto.data.id}`);
const lisbon = await createWithUnusedIata("Lisbon");
assert.match(lisbon.iata ?? "", /^[A-Z]{3}$/);

// The same IATA code again: 409, a conflict problem.
const taken = await client.POST("/airports", { body: { name: "Lisbon again", iata: lisbon.iata } });
assert.equal(assertProblem(taken.error, taken.response, 409).type, CONFLICT);

// Read with ETag, then If-None-Match: 304 with the same ETag and no body.
const read = await client.GET("/airports/{airport_id}", { params: { path: { airport_id: lisbon.id } } });
assert.equal(read.response.status, 200);
assert.deepEqual(read.data, lisbon);
const etag = read.response.headers.get("etag");
assert.ok(etag);
const unchanged = await client.GET("/airports/{airport_id}", {
  params: { path: { airport_id: lisbon.id }, header: { "If-None-Match": etag } },
});
assert.equal(unchanged.response.status, 304);
assert.equal(unchanged.response.headers.get("etag"), etag);

// A first page of one, then on by cursor: each airport once, oldest first, ours among them.
const first = await client.GET("/airports", { params: { query: { limit: 1 } } });
assert.ok(first.data);
assert.equal(first.data.items.length, 1);
const seen: Airport[] = [...first.data.items];
let cursor = first.data.next_cursor;
while (cursor) {
  const page = await client.GET("/airports", { params: { query: { limit: 100, cursor } } });
  assert.ok(page.data, JSON.stringify(page.error));
  seen.push(...page.data.items);
  cursor = page.data.next_cursor;
}
const ids = seen.map((airport) => airport.id);
assert.equal(new Set(ids).size, ids.length);
assert.ok(ids.indexOf(porto.data.id) >= 0 && ids.indexOf(porto.data.id) < ids.indexOf(lisbon.id));

// A trip, created with an Idempotency-Key and replayed: the same trip, not a second one.
const key = `"${randomUUID()}"`;
const create = () =>
  client.POST("/trips", {
    body: { airport_from: lisbon.id, airport_to: porto.data.id },
    params: { header: { "Idempotency-Key": key } },
  });
const trip = await create();
const replay = await create();
assert.equal(trip.response.status, 201);
assert.equal(replay.response.status, 201);
assert.ok(trip.data && replay.data);
assert.deepEqual(replay.data, trip.data);

// Trips by airport: from it or to it.
for (const airport of [lisbon.id, porto.data.id]) {
  const listed = await client.GET("/trips", { params: { query: { airport } } });
  assert.deepEqual(
    listed.data?.items.map((t) => t.id),
    [trip.data.id],
  );
}

// Find an airport by its IATA code, in any case: a page of one.
const found = await client.GET("/airports", { params: { query: { iata: (lisbon.iata ?? "").toLowerCase() } } });
assert.deepEqual(
  found.data?.items.map((airport) => airport.id),
  [lisbon.id],
);

// An airport's trips, as a sub-resource.
const ofLisbon = await client.GET("/airports/{airport_id}/trips", { params: { path: { airport_id: lisbon.id } } });
assert.deepEqual(
  ofLisbon.data?.items.map((t) => t.id),
  [trip.data.id],
);

// Change with a JSON Merge Patch and If-Match: the current ETag changes it, and the answer has the
// new ETag; the old one is stale now: 412, and nothing changes.
const mergePatch = { "Content-Type": "application/merge-patch+json" };
const renamed = await client.PATCH("/airports/{airport_id}", {
  params: { path: { airport_id: lisbon.id }, header: { "If-Match": etag } },
  body: { name: "Lisboa" },
  headers: mergePatch,
});
assert.equal(renamed.response.status, 200);
assert.equal(renamed.data?.name, "Lisboa");
const renamedEtag = renamed.response.headers.get("etag");
assert.ok(renamedEtag && renamedEtag !== etag);
const stale = await client.PATCH("/airports/{airport_id}", {
  params: { path: { airport_id: lisbon.id }, header: { "If-Match": etag } },
  body: { name: "Lisbon" },
  headers: mergePatch,
});
assert.equal(assertProblem(stale.error, stale.response, 412).title, "Precondition Failed");
const current = await client.GET("/airports/{airport_id}", { params: { path: { airport_id: lisbon.id } } });
assert.equal(current.data?.name, "Lisboa");
assert.equal(current.response.headers.get("etag"), renamedEtag);

// A trip's destination changes: the new airport is held, the old one free (here: moved and back).
const faro = await client.POST("/airports", { body: { name: "Faro" } });
assert.ok(faro.data);
const moved = await client.PATCH("/trips/{trip_id}", {
  params: { path: { trip_id: trip.data.id }, header: { "If-Match": trip.response.headers.get("etag") ?? "" } },
  body: { airport_to: faro.data.id },
  headers: mergePatch,
});
assert.equal(moved.data?.airport_to, faro.data.id);
const faroInUse = await client.DELETE("/airports/{airport_id}", { params: { path: { airport_id: faro.data.id } } });
assert.deepEqual(assertProblem(faroInUse.error, faroInUse.response, 409).conflicts_with, { trips: [trip.data.id] });
const back = await client.PATCH("/trips/{trip_id}", {
  params: { path: { trip_id: trip.data.id } },
  body: { airport_to: porto.data.id },
});
assert.equal(back.data?.airport_to, porto.data.id);
const faroFree = await client.DELETE("/airports/{airport_id}", { params: { path: { airport_id: faro.data.id } } });
assert.equal(faroFree.response.status, 204);

// The same key with another body: 422; a trip to where it starts: 422 naming the field.
const reused = await client.POST("/trips", {
  body: { airport_from: porto.data.id, airport_to: lisbon.id },
  params: { header: { "Idempotency-Key": key } },
});
assert.equal(assertProblem(reused.error, reused.response, 422).type, "tag:nameko-travel,2026:idempotency-key-reused");
const nowhere = await client.POST("/trips", { body: { airport_from: lisbon.id, airport_to: lisbon.id } });
const invalid = assertProblem(nowhere.error, nowhere.response, 422);
assert.equal(invalid.type, VALIDATION);
assert.deepEqual(invalid.errors, { airport_to: ["Must differ from airport_from."] });

// An airport in use cannot be deleted: 409.
const inUse = await client.DELETE("/airports/{airport_id}", { params: { path: { airport_id: lisbon.id } } });
assert.equal(assertProblem(inUse.error, inUse.response, 409).type, CONFLICT);

// Delete everything, then each is a 404 problem.
const deleted = await client.DELETE("/trips/{trip_id}", { params: { path: { trip_id: trip.data.id } } });
assert.equal(deleted.response.status, 204);
for (const airport_id of [lisbon.id, porto.data.id]) {
  const gone = await client.DELETE("/airports/{airport_id}", { params: { path: { airport_id } } });
  assert.equal(gone.response.status, 204);
  const missing = await client.GET("/airports/{airport_id}", { params: { path: { airport_id } } });
  assert.equal(assertProblem(missing.error, missing.response, 404).type, "about:blank");
}
const noTrip = await client.GET("/trips/{trip_id}", { params: { path: { trip_id: trip.data.id } } });
assertProblem(noTrip.error, noTrip.response, 404);

console.log("the TypeScript client did everything it should");
