"""Built-in `posterm certify` suite: emv.recording JSON documents (TEST ONLY cards)."""
