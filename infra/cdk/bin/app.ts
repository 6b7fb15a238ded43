#!/usr/bin/env node
// CDK app entry point. Context (cdk ... -c key=value):
//   lambdaDir  folder holding <function>/bootstrap.zip  (default: <repo>/target/lambda-arm64)
//   uiDir      the static page                          (default: <repo>/ui)
//   stackName  CloudFormation stack name                (default: DescopeM2M)
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { M2mStack } from '../lib/m2m-stack';

// Compiled to infra/cdk/build/bin/app.js: the repository root is four levels up.
const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(key);
const resolveDir = (value: string | undefined, fallback: string): string =>
  value ? path.resolve(process.cwd(), value) : fallback;

new M2mStack(app, context('stackName') ?? 'DescopeM2M', {
  lambdaDir: resolveDir(context('lambdaDir'), path.join(repoRoot, 'target', 'lambda-arm64')),
  uiDir: resolveDir(context('uiDir'), path.join(repoRoot, 'ui')),
  description:
    'Descope machine-to-machine authentication: Rust Lambda functions behind an HTTP API and the page on CloudFront',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
