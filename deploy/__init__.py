"""Deploying the app: nginx in front of replicas, Docker Compose, Kubernetes (the files beside this one), and
`python -m deploy.https`, a laptop's certificate and the app served over https."""
