"""LangGraph's Agent Server API (assistants, threads, runs) served beside accord's own routes,
for `langgraph-sdk` clients and `RemoteGraph`: a thread is an accord session."""
