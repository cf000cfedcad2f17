"""Speech out and in: scripts spoken as audio, voice notes turned into text.

``seams`` holds the protocols the conversation knows (an audio generator, a
transcriber); the speech engines (Piper's neural voices, espeak-ng), Whisper
transcription and the audio encoding behind them live here, and ``voice_io`` joins them
to a user's voice settings and the media store. It may use the foundation only.
"""
