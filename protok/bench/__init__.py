"""protok.bench"""
