"""Create, get, list and delete: the four operations both airports and trips offer, written once.

Each is a thin translation: validated input in, one RPC to the service that owns the records,
its answer out. The rules (what is valid, what conflicts) are the service's.
"""

from dataclasses import dataclass

from gateway.http.operations import Reply, created, json_response, no_content, operation, with_etag
from gateway.http.problems import HTTPProblem
from gateway.rpc.calls import RpcCall
from schemas.fields import is_id


@dataclass(frozen=True)
class RecordKind:
    name: str  # "airport": operation ids, the path parameter `<name>_id`
    plural: str  # "airports": the collection's path
    service: str
    create_schema: type  # the request body of a create
    record_schema: type
    page_schema: type
    list_query_schema: type
    create_errors: tuple
    delete_errors: tuple
    create_description: str = ""
    list_description: str = ""
    delete_description: str = ""

    @property
    def title(self):
        return self.name.capitalize()

    @property
    def a(self):
        return ("an " if self.name[0] in "aeiou" else "a ") + self.name

    @property
    def id_param(self):
        return f"{self.name}_id"


def existing_id(request, kind):
    """The id in the path; 404 straight away when it cannot be an id (it never reaches a service)."""
    value = request.params[kind.id_param]
    if not is_id(value):
        raise HTTPProblem(404, f"No {kind.name} with that id.")
    return value


def record_operations(kind):
    collection, item = f"/{kind.plural}", f"/{kind.plural}/{{{kind.id_param}}}"
    id_doc = {kind.id_param: f"The {kind.name}'s id (32 lowercase hexadecimal characters)."}

    @operation(
        "POST",
        collection,
        f"create{kind.title}",
        tag=kind.plural,
        summary=f"Create {kind.a}",
        description=kind.create_description,
        body=kind.create_schema,
        idempotency_key=True,
        replies={
            201: Reply(
                f"The new {kind.name}.",
                kind.record_schema,
                headers=("Location",),
                links={
                    f"Get{kind.title}": (f"get{kind.title}", {kind.id_param: "$response.body#/id"}),
                    f"Delete{kind.title}": (f"delete{kind.title}", {kind.id_param: "$response.body#/id"}),
                },
            )
        },
        errors=kind.create_errors,
    )
    def create(request):
        record = yield RpcCall(kind.service, "create", {**request.body, "idempotency_key": request.idempotency_key})
        return created(record, f"{collection}/{record['id']}")

    @operation(
        "GET",
        item,
        f"get{kind.title}",
        tag=kind.plural,
        summary=f"Get one {kind.name}",
        description=f"The {kind.name}, with an ETag: send it back in If-None-Match to get a 304 while the "
        f"{kind.name} has not changed.",
        path_params=id_doc,
        conditional=True,
        replies={
            200: Reply(f"The {kind.name}.", kind.record_schema, headers=("ETag",)),
            304: Reply("It has not changed since the ETag given in If-None-Match.", headers=("ETag",)),
        },
        errors=(404,),
    )
    def get(request):
        record = yield RpcCall(kind.service, "get", {kind.id_param: existing_id(request, kind)})
        return with_etag(request, record)

    @operation(
        "GET",
        collection,
        f"list{kind.plural.capitalize()}",
        tag=kind.plural,
        summary=f"List {kind.plural}, oldest first",
        description=" ".join(
            filter(
                None,
                [
                    f"`limit` {kind.plural} at a time; pass `next_cursor` as `cursor` to get the next page.",
                    kind.list_description,
                ],
            )
        ),
        query=kind.list_query_schema,
        replies={200: Reply(f"A page of {kind.plural}.", kind.page_schema)},
        errors=(422,),
    )
    def list_(request):
        page = yield RpcCall(kind.service, "list", request.query)
        return json_response(200, page)

    @operation(
        "DELETE",
        item,
        f"delete{kind.title}",
        tag=kind.plural,
        summary=f"Delete {kind.a}",
        description=kind.delete_description,
        path_params=id_doc,
        replies={204: Reply("Deleted.")},
        errors=(404, *kind.delete_errors),
    )
    def delete(request):
        yield RpcCall(kind.service, "delete", {kind.id_param: existing_id(request, kind)})
        return no_content()

    return [create, get, list_, delete]
