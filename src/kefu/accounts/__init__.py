"""Staff accounts: password hashing, logging in, and the shop a staff member works for."""
