// The stack's parameters: those of infra/stack.json, the one source the SAM template's are generated from.
import { CfnParameter, CfnParameterProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FACTS } from './facts';

/** Every parameter of the stack, by its CloudFormation name. */
export type Parameters = Readonly<Record<string, CfnParameter>>;

export function defineParameters(scope: Construct): Parameters {
  const params: Record<string, CfnParameter> = {};
  for (const [name, spec] of Object.entries<Record<string, any>>(FACTS.parameters)) {
    // CloudFormation's property names in camel case (Type -> type, AllowedValues -> allowedValues, ...).
    const props: Record<string, any> = {};
    for (const [key, value] of Object.entries(spec)) props[key.charAt(0).toLowerCase() + key.slice(1)] = value;
    if (props.allowedValues) {
      // CDK writes allowed values as strings; the default goes with them (cfn-lint E2015 on a number among strings).
      props.allowedValues = props.allowedValues.map(String);
      if (props.default !== undefined) props.default = String(props.default);
    }
    params[name] = new CfnParameter(scope, name, props as CfnParameterProps);
  }
  return params;
}
