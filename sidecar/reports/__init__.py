"""Reports: what a teacher reads about an attempt and a quiz, as HTML, PDF and CSV."""
