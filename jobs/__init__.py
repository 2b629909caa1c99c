"""RQ job functions (thin wiring), queues, retries, timers, the shared rate budget, batching."""
