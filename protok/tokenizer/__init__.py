"""protok.tokenizer"""
