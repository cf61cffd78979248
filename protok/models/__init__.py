"""protok.models"""
