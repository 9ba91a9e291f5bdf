"""Publishing: GitHub OIDC, publish and producer tokens, uploads, commits and policies."""
