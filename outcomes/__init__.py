"""Follow-ups, questionnaire responses and stored scores."""
