import { x, type Element } from './element.js';
import { NS } from './namespaces.js';

/** Values of a submitted XEP-0004 form, by field var. */
export type FormValues = Map<string, string[]>;

export function parseForm(form: Element | undefined): FormValues {
  const out: FormValues = new Map();
  if (!form) return out;
  for (const f of form.getChildren('field')) {
    const name = f.attrs.var;
    if (name !== undefined) out.set(name, f.getChildren('value').map((v) => v.text()));
  }
  return out;
}

export const formValue = (form: FormValues, name: string): string | undefined => form.get(name)?.[0];

export interface FieldSpec {
  var: string;
  type?: string;
  label?: string;
  values?: string[];
}

export function buildForm(type: 'form' | 'submit' | 'result', fields: FieldSpec[]): Element {
  return x(
    'x',
    { xmlns: NS.dataForms, type },
    fields.map((f) => x('field', { var: f.var, type: f.type, label: f.label }, (f.values ?? []).map((v) => x('value', null, v)))),
  );
}
