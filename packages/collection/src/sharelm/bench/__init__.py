"""`sharelm bench`: generated collections for throughput/memory, and the labelled PII evaluation."""
