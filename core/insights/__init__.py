"""What creators learn about their bots: usage analytics (conversations, questions their
documents did not cover, content made, credits sold) and the charts drawn from them. A
creator feature: it may use the conversation and everything below it.
"""
