from fastapi.testclient import TestClient

from agent.runtime import Runtime
from api.app import create_app


def test_healthz_and_a_persisted_conversation(library: Runtime) -> None:
    with TestClient(create_app(runtime=library)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        conversation = client.post("/v1/conversations", json={"title": "SPECTER"}).json()
        reply = client.post(f"/v1/conversations/{conversation['id']}/messages",
                            json={"content": "How does SPECTER use citations?"})
        assert reply.status_code == 200
        body = reply.json()
        assert body["conversation_id"] == conversation["id"] and body["citations"]
        stored = client.get(f"/v1/conversations/{conversation['id']}").json()
        assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
        assert stored["messages"][0]["content"] == "How does SPECTER use citations?"
        assert stored["messages"][1]["content"] == body["answer"]
        assert stored["messages"][1]["citations"] == body["citations"]


def test_unknown_conversation_and_bad_body(library: Runtime) -> None:
    with TestClient(create_app(runtime=library)) as client:
        assert client.post("/v1/conversations/nope/messages", json={"content": "hi"}).status_code == 404
        conversation = client.post("/v1/conversations").json()
        assert client.post(f"/v1/conversations/{conversation['id']}/messages", json={}).status_code == 422
