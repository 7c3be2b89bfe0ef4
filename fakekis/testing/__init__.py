"""What users import into their own tests: the pytest plugin (`pytest_plugin`, registered as the `fakekis`
entry point: the `fake_kis` fixture and `@pytest.mark.fake_kis`), the handle that fixture gives a test
(`handle`), and the end-to-end demo (`demo`).
"""
