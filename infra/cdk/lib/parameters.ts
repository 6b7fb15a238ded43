// The stack's parameters: the same names, types, defaults and constraints as infra/template.yaml (SAM); the drift
// check (infra/tests/check_drift.py) fails when the two differ.
import { CfnParameter } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Every parameter of the stack, by its CloudFormation name. */
export interface Parameters {
  readonly ProjectId: CfnParameter;
  readonly DescopeBaseUrl: CfnParameter;
  readonly JwtAudience: CfnParameter;
  readonly AllowCredentialOverride: CfnParameter;
  readonly AllowedProjectIds: CfnParameter;
  readonly StackKeyPrincipals: CfnParameter;
  readonly JwtIssuers: CfnParameter;
  readonly JwtAlgorithms: CfnParameter;
  readonly JwtLeewaySeconds: CfnParameter;
  readonly JwksCacheSeconds: CfnParameter;
  readonly JwksMaxStaleSeconds: CfnParameter;
  readonly SecretCacheSeconds: CfnParameter;
  readonly CorsAllowedOrigins: CfnParameter;
  readonly AuthProvider: CfnParameter;
  readonly OidcIssuer: CfnParameter;
  readonly DescopeAccessKey: CfnParameter;
  readonly ExistingSecretArn: CfnParameter;
  readonly ThrottlingRateLimit: CfnParameter;
  readonly ThrottlingBurstLimit: CfnParameter;
  readonly TokenThrottlingRateLimit: CfnParameter;
  readonly TokenThrottlingBurstLimit: CfnParameter;
  readonly ApiDomainName: CfnParameter;
  readonly ApiCertificateArn: CfnParameter;
  readonly PageApiBaseUrl: CfnParameter;
  readonly AuthorizerGrants: CfnParameter;
  readonly AuthorizerCacheSeconds: CfnParameter;
  readonly ApplicationLogLevel: CfnParameter;
  readonly MetricsNamespace: CfnParameter;
  readonly AlarmTopicArn: CfnParameter;
  readonly LatencyP99AlarmMilliseconds: CfnParameter;
  readonly Api5xxRateAlarmPercent: CfnParameter;
  readonly LogRetentionDays: CfnParameter;
}

export function defineParameters(scope: Construct): Parameters {
  const p = (name: string, props: ConstructorParameters<typeof CfnParameter>[2]) => new CfnParameter(scope, name, props);
  return {
    ProjectId: p('ProjectId', {
      type: 'String',
      description: 'Descope project id (DESCOPE_PROJECT_ID). The only project whose tokens are accepted; also the page\'s config.json projectId.',
      allowedPattern: '^[A-Za-z0-9_-]{1,128}$',
      constraintDescription: '1-128 characters of A-Za-z0-9_-',
    }),
    DescopeBaseUrl: p('DescopeBaseUrl', {
      type: 'String',
      default: 'https://api.descope.com',
      description: 'Descope API base URL (DESCOPE_BASE_URL).',
      allowedPattern: '^https://[^\\s/]+(/[^\\s]*)?$',
      constraintDescription: 'an https:// URL',
    }),
    JwtAudience: p('JwtAudience', {
      type: 'String',
      default: '',
      description: 'When set, tokens must have an aud containing it (JWT_AUDIENCE); required with AUTH_PROVIDER=oidc.',
    }),
    AllowCredentialOverride: p('AllowCredentialOverride', {
      type: 'String',
      default: 'false',
      allowedValues: ['true', 'false'],
      description: 'Accept a projectId other than ProjectId in the token request body (ALLOW_CREDENTIAL_OVERRIDE). A caller\'s own accessKey, with ProjectId or no projectId, is always accepted on POST /m2m/token.',
    }),
    AllowedProjectIds: p('AllowedProjectIds', {
      type: 'String',
      default: '',
      allowedPattern: '^[A-Za-z0-9_,-]*$',
      description: 'With AllowCredentialOverride, the only projects a request body may name, comma-separated (ALLOWED_PROJECT_IDS). Empty = any.',
    }),
    StackKeyPrincipals: p('StackKeyPrincipals', {
      type: 'String',
      default: '',
      description: 'JSON object from IAM principal ARN to the grants it may receive of the stack\'s key (STACK_KEY_PRINCIPALS), e.g. {"arn:aws:iam::123456789012:role/reporting": ["read:data"]}; ["*"] = all of the key\'s grants. A role matches its sessions. Empty = nobody may use POST /m2m/token/iam.',
    }),
    JwtIssuers: p('JwtIssuers', {
      type: 'String',
      default: '',
      description: 'Extra accepted iss values, comma-separated (JWT_ISSUERS).',
    }),
    JwtAlgorithms: p('JwtAlgorithms', {
      type: 'String',
      default: 'RS256',
      description: 'Accepted signature algorithms, comma-separated (JWT_ALGORITHMS).',
    }),
    JwtLeewaySeconds: p('JwtLeewaySeconds', {
      type: 'Number',
      default: 5,
      minValue: 0,
      maxValue: 300,
      description: 'Clock skew allowed on exp/nbf (JWT_LEEWAY_SECONDS).',
    }),
    JwksCacheSeconds: p('JwksCacheSeconds', {
      type: 'Number',
      default: 600,
      minValue: 1,
      maxValue: 86400,
      description: 'How long fetched signing keys are trusted before a refresh (JWKS_CACHE_SECONDS).',
    }),
    JwksMaxStaleSeconds: p('JwksMaxStaleSeconds', {
      type: 'Number',
      default: 86400,
      minValue: 0,
      maxValue: 604800,
      description: 'While every refresh fails, how long cached keys are still trusted, then 503 (JWKS_MAX_STALE_SECONDS).',
    }),
    SecretCacheSeconds: p('SecretCacheSeconds', {
      type: 'Number',
      default: 300,
      minValue: 0,
      maxValue: 86400,
      description: 'How long the token function reuses the secret it read (SECRET_CACHE_SECONDS).',
    }),
    CorsAllowedOrigins: p('CorsAllowedOrigins', {
      type: 'String',
      default: '',
      // Exact origins only: the functions refuse '*', 'null', paths and upper case at start-up.
      allowedPattern: '^(https?://[a-z0-9.-]+(:[0-9]{1,5})?)?(,https?://[a-z0-9.-]+(:[0-9]{1,5})?)*$',
      description: 'Comma-separated extra browser origins (CORS_ALLOWED_ORIGINS); the functions answer the preflights themselves. Empty = same origin only (the page through CloudFront).',
    }),
    AuthProvider: p('AuthProvider', {
      type: 'String',
      default: 'descope',
      allowedValues: ['descope', 'oidc'],
      description: 'descope, or oidc for a standard OAuth 2.0 / OpenID Connect provider (AUTH_PROVIDER). Decides the secret\'s shape.',
    }),
    OidcIssuer: p('OidcIssuer', {
      type: 'String',
      default: '',
      description: 'The OIDC issuer when AuthProvider is oidc (OIDC_ISSUER).',
    }),
    DescopeAccessKey: p('DescopeAccessKey', {
      type: 'String',
      noEcho: true,
      default: '',
      maxLength: 1024,
      allowedPattern: '^[!-~]*$',
      description: 'AuthProvider=descope only: access key stored in the secret this stack creates. Leave empty and run `aws secretsmanager put-secret-value` after the deploy (recommended: the key never passes through CloudFormation), or use ExistingSecretArn.',
    }),
    ExistingSecretArn: p('ExistingSecretArn', {
      type: 'String',
      default: '',
      allowedPattern: '^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)?$',
      description: 'Full ARN of a secret made with `aws secretsmanager create-secret`: {"projectId":"...","accessKey":"..."} for descope, {"clientId":"...","clientSecret":"..."} for oidc. Empty = this stack creates the secret.',
    }),
    ThrottlingRateLimit: p('ThrottlingRateLimit', {
      type: 'Number',
      default: 50,
      minValue: 1,
      description: 'Steady-state requests per second of each protected route (the stage\'s default route settings).',
    }),
    ThrottlingBurstLimit: p('ThrottlingBurstLimit', {
      type: 'Number',
      default: 100,
      minValue: 1,
      description: 'Burst of requests of each protected route.',
    }),
    TokenThrottlingRateLimit: p('TokenThrottlingRateLimit', {
      type: 'Number',
      default: 10,
      minValue: 1,
      description: 'Steady-state requests per second of each token route (POST /m2m/token, POST /m2m/token/iam); keep it below ThrottlingRateLimit.',
    }),
    TokenThrottlingBurstLimit: p('TokenThrottlingBurstLimit', {
      type: 'Number',
      default: 20,
      minValue: 1,
      description: 'Burst of requests of each token route.',
    }),
    ApiDomainName: p('ApiDomainName', {
      type: 'String',
      default: '',
      allowedPattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+)?$',
      description: 'Optional custom domain of the HTTP API (e.g. api.example.com). When set (with ApiCertificateArn), CloudFront uses it as its API origin and the default execute-api endpoint is disabled. Point its DNS at the ApiDomainTarget output.',
    }),
    ApiCertificateArn: p('ApiCertificateArn', {
      type: 'String',
      default: '',
      allowedPattern: '^(arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+)?$',
      description: 'ACM certificate for ApiDomainName, in this stack\'s region (required with ApiDomainName).',
    }),
    PageApiBaseUrl: p('PageApiBaseUrl', {
      type: 'String',
      default: '',
      allowedPattern: '^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?)?$',
      description: 'apiBaseUrl in the page\'s config.json. Empty (recommended) = the page calls the API on its own origin through CloudFront. An https URL on another origin (e.g. https://api.example.com) is added to the page\'s CSP connect-src; CorsAllowedOrigins must then list the page\'s origin.',
    }),
    AuthorizerGrants: p('AuthorizerGrants', {
      type: 'String',
      default: '{}',
      minLength: 2,
      description: 'The authorizer\'s AUTHORIZER_GRANTS: a JSON object from route key to the grant it requires, e.g. {"GET /api/whoami": "read:data"}. Routes not named need a valid token only; an empty grant is invalid.',
    }),
    AuthorizerCacheSeconds: p('AuthorizerCacheSeconds', {
      type: 'Number',
      default: 300,
      minValue: 0,
      maxValue: 300,
      description: 'How long API Gateway caches an authorizer decision per (Authorization header, route). A cached allow can outlive the token by up to this many seconds; 0 = no cache.',
    }),
    ApplicationLogLevel: p('ApplicationLogLevel', {
      type: 'String',
      default: 'INFO',
      allowedValues: ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'],
      description: 'The functions\' log level (LoggingConfig.ApplicationLogLevel; Lambda passes it as AWS_LAMBDA_LOG_LEVEL).',
    }),
    MetricsNamespace: p('MetricsNamespace', {
      type: 'String',
      default: 'M2MAuth',
      allowedPattern: '^[A-Za-z0-9_./#:-]{1,255}$',
      description: 'CloudWatch namespace of the functions\' embedded-metric-format metrics (METRICS_NAMESPACE); the alarms and the dashboard read it.',
    }),
    AlarmTopicArn: p('AlarmTopicArn', {
      type: 'String',
      default: '',
      allowedPattern: '^(arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256})?$',
      description: 'Optional SNS topic every alarm notifies (ALARM and OK). Empty = alarms without notifications.',
    }),
    LatencyP99AlarmMilliseconds: p('LatencyP99AlarmMilliseconds', {
      type: 'Number',
      default: 1000,
      minValue: 1,
      description: 'The protected functions\' p99 latency (EMF Latency) above which their alarm fires (3 periods of 5 minutes).',
    }),
    Api5xxRateAlarmPercent: p('Api5xxRateAlarmPercent', {
      type: 'Number',
      default: 5,
      minValue: 0,
      maxValue: 100,
      description: 'Share of the HTTP API\'s answers that are 5xx, in percent over 5 minutes, above which the alarm fires.',
    }),
    LogRetentionDays: p('LogRetentionDays', {
      type: 'Number',
      default: '30', // a string, like the AllowedValues (cfn-lint E2015 on a number among strings)
      allowedValues: ['1', '3', '5', '7', '14', '30', '60', '90', '120', '150', '180', '365', '400', '545', '731', '1096', '1827', '2192', '2557', '2922', '3288', '3653'],
      description: 'Retention of the function and access log groups.',
    }),
  };
}
