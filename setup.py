"""Build step for the compiled modules: the signals scan (``nlp/_signals.pyx`` with its phrase
matcher ``nlp/_phrase_trie.pxi``), which reads spaCy's token structs and so compiles against the
spaCy that pyproject.toml pins, and the amount finder's ASCII path (``nlp/_amounts.pyx``)."""
import numpy
import spacy
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("tiergate.nlp._signals", ["nlp/_signals.pyx"], depends=["nlp/_phrase_trie.pxi"],
               include_dirs=[numpy.get_include()], language="c++",   # spaCy's pxds: numpy, C++
               # the module refuses to load next to a spaCy of another minor version
               define_macros=[("TIERGATE_SPACY_BUILD", f'"{spacy.__version__}"')]),
     Extension("tiergate.nlp._amounts", ["nlp/_amounts.pyx"])],
    compiler_directives={"language_level": "3"},
))
