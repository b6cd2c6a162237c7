"""Prompt text for the methods: readable templates with their variable parts named."""
