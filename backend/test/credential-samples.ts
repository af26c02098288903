/** Credential-shaped test values (not real keys), shared by the credential scrubber's unit and black-box tests. */
export const OPENAI_KEY = 'sk-proj-Zx8Qw2Lm4Nb6Vc1Rt7Yu9Io3Pa5Sd0FgHj';
export const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWc';
/** 32 hex: the shape of an Azure OpenAI key. */
export const AZURE_KEY = '9f8e7d6c5b4a39281706f5e4d3c2b1a0';
export const GITHUB_TOKEN = 'ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
