"""The Measures as code: event catalogue, facts, rules, working-day calendar, trail and views."""
