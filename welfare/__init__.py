"""Vote on values: council, seats and power, motions, metric versions, observations, measurement."""
