"""protok.quantizers"""
