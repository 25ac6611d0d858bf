// Typed linting: the Promise <-> Effect boundary is where forgotten awaits hide, so floating promises are errors.
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/dist-test/**", "**/node_modules/**", ".durably/**", "bench-results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "*.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/only-throw-error": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "require-yield": "off",
      // Workflows and steps are async by contract, whether or not their body awaits.
      "@typescript-eslint/require-await": "off",
      // Tests declare an engine before the closures that crash it, then assign it.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // The dashboard's UI: plain browser JavaScript shipped as is (no build step), so no type information.
    files: ["packages/dashboard/assets/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: "module",
      parserOptions: { projectService: false, project: false },
      globals: Object.fromEntries(
        [
          "window",
          "document",
          "fetch",
          "location",
          "addEventListener",
          "setInterval",
          "clearInterval",
          "setTimeout",
          "clearTimeout",
          "CSS",
          "FormData",
          "Node",
          "URL",
          "URLSearchParams",
          "console",
          "confirm",
          "history",
          "navigator",
        ].map((g) => [g, "readonly"]),
      ),
    },
  },
)
