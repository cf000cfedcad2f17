"""Creators reaching their audience: broadcasts to every subscriber (or a segment of
them), schedules that send on a timetable in each user's time zone, and the audience
rules (who has opted out, who WhatsApp may still reach). A creator feature: it may use
the conversation and everything below it, never the channels, the API or the CLI.
"""
