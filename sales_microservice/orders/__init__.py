"""Orders: place, pay, cancel or refund, ship and deliver, with their status history."""
