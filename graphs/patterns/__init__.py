"""The collaboration patterns: handoff, routed, consultation, delegation and consensus."""
