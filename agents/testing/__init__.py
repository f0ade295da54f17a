"""Test doubles that are real components: a scripted chat model and a fault-injecting server."""
