"""Tests of the Genesys Cloud emulator."""
